"""Real measurements shipped with the package (no download, ever).

- ``mauna_loa_co2``: weekly CO2 at Mauna Loa Observatory, March 1958 - December 2001
  (Keeling and Whorf, Scripps; public domain, as the file's header says). A time series with a
  trend and a yearly cycle: the data set where a random split and a split by time disagree,
  because tomorrow is not drawn from the same pool as yesterday.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources

import numpy as np

CO2_FILE = "mauna_loa_co2.csv"


def _decimal_year(day: dt.date) -> float:
    start, end = dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1)
    return day.year + (day - start).days / (end - start).days


def mauna_loa_co2() -> tuple[np.ndarray, np.ndarray]:
    """Weekly mean CO2 at Mauna Loa, Hawaii, from March 1958 to December 2001.

    Returns
    -------
    t : (2225,) float64
        The week's date as a decimal year (1958.23 is late March 1958), increasing. Weeks
        without a measurement are absent, so the steps are not all 1/52.
    co2 : (2225,) float64
        The CO2 concentration in ppm (parts per million of dry air).

    The source and licence are in the header of ``mlcourse/data/mauna_loa_co2.csv``.

    Example
    -------
    >>> t, co2 = mauna_loa_co2()
    >>> t.shape, round(float(t[0]), 2), float(co2[0])
    ((2225,), 1958.24, 316.1)
    """
    text = resources.files("mlcourse.data").joinpath(CO2_FILE).read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines()
            if line and not line.startswith("#") and not line.startswith("week")]
    t = np.array([_decimal_year(dt.date.fromisoformat(week)) for week, _days, _ppm in rows])
    co2 = np.array([float(ppm) for _week, _days, ppm in rows])
    return t, co2

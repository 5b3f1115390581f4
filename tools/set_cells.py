"""Replace cells of a source notebook by grade_id (a maintainer's tool for solutions/).

    python tools/set_cells.py solutions/03-losses/03-losses.ipynb cells.py

``cells.py`` holds blocks that start with a line ``#%% <grade_id>``; each block
becomes the whole source of the cell with that grade_id. Metadata, ids and every
other cell are kept; outputs stay stripped.
"""

import re
import sys

import nbformat


def main(path: str, blocks_file: str) -> None:
    text = open(blocks_file, encoding="utf-8").read()
    parts = re.split(r"^#%% (\S+)\n", text, flags=re.M)
    blocks = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts), 2)}
    nb = nbformat.read(path, as_version=4)
    found = set()
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in blocks:
            cell.source = blocks[gid]
            found.add(gid)
    missing = set(blocks) - found
    if missing:
        sys.exit(f"no cells with grade_id {sorted(missing)} in {path}")
    nbformat.write(nb, path)
    print(f"{path}: replaced {sorted(found)}")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Ordinary notebook code, written the many ways learners write it: none of it may cost a point.

Each habit is one extra cell a learner might add to a solved notebook: exploring,
printing, plotting, timing, saving, shell escapes, their own classes and helpers,
seeds and threads, logging. ``tests/test_honest.py`` adds them to solved notebooks and
grades them through ``mlcourse grade``, ``make grade`` and plain ``nbgrader autograde``;
every one must keep full marks. The cells are self-contained (they import what they
use) and quick, and write only inside the notebook's folder.
"""

HABITS = {
    # ---- exploring and displaying
    "IPython.display": "from IPython.display import display, Markdown, HTML\n"
                       "display(Markdown('**loss** so far'))\ndisplay(HTML('<b>done</b>'))\n"
                       "seen = [1, 2, 3]\ndisplay(seen)",
    "display of an array": "import numpy as np\nfrom IPython.display import display\n"
                           "display(np.arange(6).reshape(2, 3))",
    "help with ?": "import numpy as np\nnp.mean?",
    "dir and type": "import numpy as np\nprint([n for n in dir(np.linalg) if not n.startswith('_')][:5])\n"
                    "print(type(np.zeros(2)).__name__, np.zeros(2).__class__)",
    "inspect.signature": "import inspect\nimport numpy as np\nprint(inspect.signature(np.linspace))\n"
                         "print(inspect.getdoc(np.mean)[:40])",
    "vars of a config": "class Config:\n    lr = 0.1\n    def __init__(self):\n        self.epochs = 3\n"
                        "config = Config()\nprint(vars(config))",
    "globals check": "print('mse' in globals(), len(locals()) > 0)",
    # ---- printing and logging
    "print to stderr": "import sys\nprint('epoch 1: loss 0.5', file=sys.stderr)\nsys.stdout.flush()\n"
                       "sys.stderr.flush()",
    "logging": "import logging\nlogging.basicConfig(level=logging.INFO)\nlog = logging.getLogger('train')\n"
               "log.info('starting')\nlog.warning('lr may be high')",
    "warnings": "import warnings\nwarnings.filterwarnings('ignore', category=UserWarning)\n"
                "warnings.warn('just a note')",
    "traceback.print_exc": "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n"
                           "    traceback.print_exc()",
    "pprint and textwrap": "import pprint, textwrap\npprint.pprint({'a': [1, 2], 'b': {'c': 3}})\n"
                           "print(textwrap.fill('a long note ' * 5, 30))",
    "tqdm progress": "from tqdm.auto import tqdm\ntotal = 0\nfor i in tqdm(range(5)):\n    total += i",
    "redirected stdout": "import contextlib, io\nbuf = io.StringIO()\n"
                         "with contextlib.redirect_stdout(buf):\n    print('hidden')\nprint(len(buf.getvalue()))",
    # ---- plotting
    "matplotlib figure": "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
                         "fig, ax = plt.subplots()\nax.plot(np.arange(5), np.arange(5) ** 2)\n"
                         "ax.set_title('squares'); ax.set_xlabel('x'); ax.set_ylabel('x²')\nplt.show()",
    "rcParams": "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (4, 3)\n"
                "plt.rcParams.update({'font.size': 9})",
    # ---- timing
    "%timeit": "import numpy as np\n%timeit -n 3 -r 1 np.sum(np.ones(100))",
    "%%time cell": "%%time\nimport numpy as np\nacc = 0.0\nfor _ in range(10):\n    acc += float(np.sum(np.ones(10)))",
    "time.perf_counter": "import time\nt0 = time.perf_counter()\nsum(range(1000))\n"
                         "print(f'{time.perf_counter() - t0:.6f} s')",
    "copy.deepcopy with %timeit": "import copy\nstate = {'a': [1, 2, 3]}\n%timeit -n 2 -r 1 copy.deepcopy(state)",
    # ---- shell escapes and the environment
    "!pip --version": "!pip --version",
    "%pip list": "%pip --version",
    "!ls": "files = !ls\nprint(len(files) >= 0)",
    "os.environ": "import os\nos.environ['OMP_NUM_THREADS'] = '1'\nprint(os.environ.get('HOME') is not None)",
    "%env": "%env MY_FLAG=1",
    "autoreload": "%load_ext autoreload\n%autoreload 2",
    "os.getcwd and listdir": "import os\nprint(os.getcwd() != '', len(os.listdir('.')) >= 0)",
    # ---- saving and loading
    "pickle weights": "import pickle\nimport numpy as np\nweights = {'w': np.ones(3)}\n"
                      "with open('weights.pkl', 'wb') as fh:\n    pickle.dump(weights, fh)\n"
                      "with open('weights.pkl', 'rb') as fh:\n    back = pickle.load(fh)\nprint(back['w'].sum())",
    "a note written to a file": "with open('notes.txt', 'w') as fh:\n    fh.write('remember: lr 0.1 works\\n')\n"
                                "print(open('notes.txt').read())",
    "np.save": "import numpy as np\nnp.save('arr.npy', np.arange(4))\nprint(np.load('arr.npy'))",
    "pathlib and json": "import json, pathlib\nrun_file = pathlib.Path('run.json')\n"
                        "run_file.write_text(json.dumps({'lr': 0.1, 'epochs': 3}))\nprint(json.loads(run_file.read_text()))",
    "torch.save": "import torch\ntorch.save({'w': torch.ones(2)}, 'w.pt')\nprint(torch.load('w.pt')['w'])",
    "csv module": "import csv\nwith open('log.csv', 'w', newline='') as fh:\n"
                  "    csv.writer(fh).writerows([['epoch', 'loss'], [1, 0.5]])",
    # ---- the learner's own classes and helpers
    "nn.Module with setattr": "import torch\nclass Deep(torch.nn.Module):\n"
                              "    def __init__(self, sizes):\n        super().__init__()\n"
                              "        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):\n"
                              "            setattr(self, f'layer{i}', torch.nn.Linear(a, b))\n"
                              "        self.n = len(sizes) - 1\n"
                              "    def forward(self, x):\n        for i in range(self.n):\n"
                              "            x = getattr(self, f'layer{i}')(x)\n        return x\n"
                              "print(Deep([2, 4, 1])(torch.zeros(3, 2)).shape)",
    "__dict__.update": "class Run:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\n"
                       "run = Run(lr=0.1, epochs=2)\nprint(run.lr, run.__dict__)",
    "SimpleNamespace batch": "import types\nimport numpy as np\n"
                             "batch = types.SimpleNamespace(inputs=np.zeros((2, 3)), labels=np.ones(2))\n"
                             "print(batch.inputs.shape, batch.labels)",
    "dataclass": "from dataclasses import dataclass, field, asdict\n@dataclass\nclass HParams:\n"
                 "    lr: float = 0.1\n    sizes: list = field(default_factory=lambda: [2, 8, 1])\n"
                 "print(asdict(HParams()))",
    "namedtuple": "from collections import namedtuple, defaultdict, Counter\nPoint = namedtuple('Point', 'x y')\n"
                  "print(Point(1, 2), Counter('abca').most_common(1), defaultdict(list)['k'])",
    "getattr with a computed name": "import numpy as np\nfor name in ['mean', 'median', 'std']:\n"
                                    "    print(name, getattr(np, name)(np.arange(5.0)))",
    "own decorator with functools": "import functools\ndef logged(f):\n    @functools.wraps(f)\n"
                                    "    def inner(*a, **k):\n        return f(*a, **k)\n    return inner\n"
                                    "@logged\ndef twice(v):\n    return 2 * v\nprint(twice(2), twice.__wrapped__(3))",
    "own __setattr__ and __getattr__": "class Frozen:\n    def __init__(self):\n"
                                       "        object.__setattr__(self, 'x', 1)\n"
                                       "    def __setattr__(self, k, v):\n        raise AttributeError(k)\n"
                                       "    def __getattr__(self, k):\n        return 0\nprint(Frozen().x, Frozen().y)",
    "eval of a literal expression": "print(eval('2 ** 10'))",
    "a generator and itertools": "import itertools\ndef batches(n, b):\n    for i in range(0, n, b):\n"
                                 "        yield range(i, min(i + b, n))\nprint(list(itertools.islice(batches(10, 3), 2)))",
    "lambda and map": "sq = lambda v: v * v\nprint(list(map(sq, range(4))), sorted([3, 1, 2], key=lambda v: -v))",
    "try/except around a cell": "try:\n    import scipy  # noqa\n    print('scipy here')\nexcept ImportError:\n"
                                "    print('no scipy')",
    # ---- seeds, threads, the machine
    "seeds": "import random\nimport numpy as np\nimport torch\nrandom.seed(0)\nnp.random.seed(0)\n"
             "torch.manual_seed(0)\nmy_rng = np.random.default_rng(0)\nprint(my_rng.normal())",
    "threading.Lock": "import threading\nlock = threading.Lock()\nwith lock:\n    counter = 1\n"
                      "worker = threading.Thread(target=lambda: None)\nworker.start(); worker.join()",
    "torch settings": "import torch\ntorch.set_num_threads(1)\ntorch.backends.cudnn.deterministic = True\n"
                      "torch.set_printoptions(precision=3)\nprint(torch.get_num_threads())",
    "numpy settings": "import numpy as np\nnp.set_printoptions(precision=3, suppress=True)\n"
                      "with np.errstate(divide='ignore'):\n    print(np.float64(1.0) / 0)",
    "gc.collect to free memory": "import gc\nimport torch\ngc.collect()\n"
                                 "if torch.cuda.is_available():\n    torch.cuda.empty_cache()",
    "is torch imported?": "import sys\nprint('torch' in sys.modules, 'pandas' not in sys.modules)",
    "platform and sys.version": "import platform, sys\nprint(platform.python_version(), sys.version_info[:2],"
                                " sys.platform)",
    "gc-free memory check": "import resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0)",
    "sys.path for a helper folder": "import sys, os\nsys.path.append(os.path.abspath('.'))\nprint(sys.path[-1] != '')",
    "importlib.import_module of a library": "import importlib\nnp2 = importlib.import_module('numpy')\n"
                                            "print(np2.__name__)",
    "a helper module written and imported": "import pathlib\n"
                                            "pathlib.Path('my_helpers.py').write_text('def twice(v):\\n    return 2 * v\\n')\n"
                                            "import my_helpers\nprint(my_helpers.twice(4))",
    "exec of a literal": "exec('product = 3 * 7')\nprint(product)",
    "ipywidgets": "import ipywidgets as widgets\nslider = widgets.IntSlider(value=3, min=0, max=10)\nslider",
    "a check of one's own answer against torch": "import torch\nimport numpy as np\n"
                                                 "probe = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                                                 "(probe ** 2).sum().backward()\nprint(np.allclose(probe.grad.numpy(), [2, 4]))",
}

"""The shape of the library, enforced: ``ls explorer`` is the architecture (one package per layer), a layer
imports only downward, nothing imports in a cycle, the library layers load no Streamlit, Ray or SQLAlchemy,
and the pages import the library through its packages' public faces (ARCHITECTURE.md explains the layers)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "explorer"

# lowest first; a module may import its own layer and the layers below it. A layer is a package of explorer
# (or one top-level module); "top" is the package's own face and its command line.
LAYERS = ["_lazy", "i18n", "core", "interpret", "lessons", "plots", "serve", "top"]
LIBRARY = ["_lazy", "i18n", "core", "interpret", "lessons", "plots"]  # what a notebook gets: no server parts
ENTRY = [ROOT / "app.py", ROOT / "server.py"]  # the app's script, and the server that serves it
FACES = ["core", "interpret", "lessons", "plots", "serve"]  # the packages the pages import from


def _modules() -> dict[str, Path]:
    """Every module of explorer by dotted name relative to it (``core.spec``, ``plots``, ``__main__``),
    migrations (Alembic's scripts) left out."""
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        if "migrations" in rel.parts:
            continue
        out[".".join(rel.parts)] = path
    return out


MODULES = _modules()


def layer(module: str) -> str:
    head = module.split(".")[0]
    return head if head in LAYERS else "top"


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The explorer modules an import statement names (relative or absolute ``explorer.…``)."""
    if node.level:
        package = module.split(".")[:-1]  # "core.spec" and "core.__init__" are both in core; "plots" is in none
        base = package[: len(package) - (node.level - 1)]
        stem = base + (node.module.split(".") if node.module else [])
    elif node.module and node.module.split(".")[0] == "explorer":
        stem = node.module.split(".")[1:]
    else:
        return []
    found = []
    for target in ([".".join(stem + [a.name]) for a in node.names] if not node.module else []) + [".".join(stem)]:
        if target in MODULES:
            found.append(target)
        elif f"{target}.__init__" in MODULES:
            found.append(f"{target}.__init__")
        elif not target:
            found.append("__init__")
    return found


def _resolve_plain(node: ast.Import) -> list[str]:
    """The explorer modules an ``import explorer.a.b`` statement names."""
    found = []
    for alias in node.names:
        parts = alias.name.split(".")
        if parts[0] != "explorer":
            continue
        target = ".".join(parts[1:])
        if target in MODULES:
            found.append(target)
        elif f"{target}.__init__" in MODULES or not target:
            found.append(f"{target}.__init__" if target else "__init__")
    return found


def _imports(module: str, at_import_time: bool, typing: bool = False) -> set[str]:
    """The explorer modules ``module`` imports, at import time only or anywhere in it; imports under
    ``if TYPE_CHECKING:`` count only with ``typing`` (they never run, but a reader and a type checker follow)."""
    tree = ast.parse(MODULES[module].read_text())
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not typing:
            return
        if isinstance(node, ast.ImportFrom) and (top or not at_import_time):
            found.update(_resolve(module, node))
        if isinstance(node, ast.Import) and (top or not at_import_time):
            found.update(_resolve_plain(node))
        inner = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, True)
    return found - {module}


def test_ls_explorer_states_the_architecture():
    entries = {p.name for p in PKG.iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert entries == {
        "__init__.py",
        "__main__.py",
        "_lazy.py",
        "i18n.py",
        "launch.py",
        "locale",
        "core",
        "interpret",
        "lessons",
        "plots",
        "serve",
    }  # the dev tools (benchmarks, the browser driver) live in devtools/
    for name in ("core", "interpret", "lessons", "plots", "serve"):
        assert (PKG / name / "__init__.py").is_file()


def test_the_import_resolver_reads_relative_imports():  # the other tests rely on it
    assert "core.budget" in _imports("interpret.inspect", at_import_time=False)
    assert "core.budget" in _imports("core.spec", at_import_time=False)
    assert "core.spec" in _imports("lessons.export", at_import_time=False)  # ..core.spec
    assert "i18n" in _imports("lessons.path", at_import_time=True)  # ..i18n, a top-level module
    assert "core.spec" in _imports("core.checkpoint", at_import_time=True)  # .spec, a sibling at import time
    tree = ast.parse("import explorer.serve.cluster\nimport explorer.core\nimport os")
    assert [m for n in tree.body for m in _resolve_plain(n)] == ["serve.cluster", "core.__init__"]  # `import a.b` too


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_and_those_below(module):
    rank = LAYERS.index
    upward = {m for m in _imports(module, at_import_time=False) if rank(layer(m)) > rank(layer(module))}
    assert not upward, f"explorer.{module} imports upward: {sorted(upward)}"


def test_no_import_cycles_not_even_through_type_hints():
    graph = {m: _imports(m, at_import_time=True, typing=True) for m in MODULES}
    # a package's face imports its modules, and importing a module runs its package's face first: that edge is
    # Python's, not a cycle of ours, so only the modules' own imports count
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def walk(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            assert state.get(n) != 1, "import cycle: " + " -> ".join(path + [m, n])
            if n not in state:
                walk(n, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m, [])


def test_the_library_layers_load_no_streamlit_ray_or_sqlalchemy():
    mods = [m.removesuffix(".__init__") for m in MODULES if layer(m) in LIBRARY]
    code = (
        "import sys\n" + "".join(f"import explorer.{m}\n" for m in sorted(mods)) + "import explorer\n"
        "print(sorted(n for n in ('streamlit', 'ray', 'sqlalchemy') if n in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]", f"the library loaded {r.stdout.strip()}"


def test_the_database_face_does_not_start_ray():
    code = "import sys\nfrom explorer.serve import WorkspaceStore\nprint('ray' in sys.modules, WorkspaceStore.__module__)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["False", "explorer.serve.store"]


def test_the_first_pages_words_wait_for_no_torch():
    """What app.py runs before Start's button (the menu, the language, the server object and its school password)
    and the library's limits load no torch: a cold server's first page took 1.6 s longer when the server object
    imported it (the teaching door's module pulled the whole core in for one limit)."""
    code = (
        "import sys\nfrom explorer.serve import Server\nServer()\nimport explorer.core.limits, explorer.core.runwords\n"
        "import pages._lang, pages._nav, pages._keys, pages._server\nprint('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-1] == "False"


def test_a_face_name_that_is_also_a_module_name_stays_the_faces():
    code = (
        "import explorer.core.evaluate, explorer.core.train, explorer.core.budget\n"
        "from explorer.core import evaluate, train, budget\nimport explorer.core as core\n"
        "print(*(callable(f) and f.__module__ for f in (evaluate, train, budget, core.train)))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == [
        "explorer.core.evaluate",
        "explorer.core.train",
        "explorer.core.budget",
        "explorer.core.train",
    ]  # the functions, not their modules


@pytest.mark.parametrize("package", FACES)
def test_each_package_has_a_public_face_that_names_what_it_offers(package):
    face = importlib.import_module(f"explorer.{package}")
    assert face.__all__, f"explorer.{package} has no __all__"
    for name in face.__all__:
        assert getattr(face, name) is not None
    owned = set()
    for m in MODULES:
        if m.startswith(f"{package}.") and not m.endswith("__init__"):
            module = importlib.import_module(f"explorer.{m}")
            owned |= set(getattr(module, "__all__", []))
            wrong = [n for n in getattr(module, "__all__", []) if getattr(face, n, None) is not getattr(module, n)]
            assert not wrong, f"explorer.{package} gives other objects than explorer.{m} for {wrong}"
    assert owned == set(face.__all__), f"explorer.{package}'s face differs from its modules': {owned ^ set(face.__all__)}"


def test_the_top_level_face_gives_each_name_from_the_module_that_defines_it():
    """``explorer.Augment`` and the rest: each resolves, and is the object of a module that lists it as its own."""
    import explorer

    homes = {}
    for m in MODULES:
        if not m.endswith("__init__"):
            module = importlib.import_module(f"explorer.{m}")
            homes.update({n: module for n in getattr(module, "__all__", [])})
    missing = [n for n in explorer.__all__ if n not in homes]
    assert not missing, f"no module of explorer lists {missing} as its own"
    wrong = [n for n in explorer.__all__ if getattr(explorer, n, None) is not getattr(homes[n], n)]
    assert not wrong, f"explorer's face gives other objects for {wrong}"


def test_pages_import_the_library_through_its_faces():
    """``from explorer.serve import X``, never ``from explorer.serve.cluster import X`` nor ``import
    explorer.serve.cluster``."""
    deep = []
    for path in [*sorted((ROOT / "pages").glob("*.py")), *ENTRY]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module]
                if isinstance(node, ast.ImportFrom) and node.module
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                parts = name.split(".")
                if parts[0] == "explorer" and len(parts) > 2 and parts[1] in FACES:
                    deep.append(f"{path.name}: {name}")
    assert not deep, "import these from the package's face: " + "; ".join(deep)


def test_no_module_is_longer_than_500_lines():
    long = [
        f"{p.relative_to(ROOT)} ({n})"
        for p in [*PKG.rglob("*.py"), *(ROOT / "pages").glob("*.py")]
        if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > 500
    ]
    assert not long, "split these into rooms of one concern: " + ", ".join(sorted(long))


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in [*PKG.rglob("*.py"), *(ROOT / "pages").glob("*.py"), *ENTRY]:
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 60:
                    long.append(f"{path.relative_to(ROOT)}:{node.name} ({n})")
    assert not long, "split these: " + ", ".join(sorted(long))


def test_pages_take_each_helper_from_the_file_that_defines_it():
    """Session state from ``_state``, server resources from ``_server``, widgets from the file of their concern: no
    helper file passes on another's names."""
    defined: dict[str, set[str]] = {}
    for name in sorted(p.stem for p in (ROOT / "pages").glob("_*.py") if p.stem != "__init__"):
        tree = ast.parse((ROOT / "pages" / f"{name}.py").read_text())
        defined[name] = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | {
            t.id
            for n in tree.body
            if isinstance(n, (ast.Assign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Name)
        }
    passed_on = []
    for path in [*sorted((ROOT / "pages").glob("*.py")), *ENTRY]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pages._"):
                helper = node.module.split(".")[1]
                passed_on += [f"{path.name}: {a.name} from {helper}" for a in node.names if a.name not in defined[helper]]
    assert not passed_on, "import these from where they are defined: " + "; ".join(passed_on)


def test_no_module_imports_a_name_private_to_another():
    """A name that starts with one underscore belongs to its module: the library, the app and the dev tools never
    import one from elsewhere (a name two modules need is public in the one that defines it)."""
    taken = []
    files = [*PKG.rglob("*.py"), *(ROOT / "pages").glob("*.py"), *ENTRY, *(ROOT / "devtools").glob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                taken += [
                    f"{path.relative_to(ROOT)}: {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert not taken, "these are another module's own: " + "; ".join(taken)


def test_the_upload_cap_is_one_fact_in_the_library_the_server_settings_and_the_command():
    import tomllib

    from explorer.core.limits import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB
    from explorer.launch import SERVER_FLAGS

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert MAX_UPLOAD_BYTES == MAX_UPLOAD_MB << 20
    assert settings["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert SERVER_FLAGS[SERVER_FLAGS.index("--server.maxUploadSize") + 1] == str(MAX_UPLOAD_MB)


def test_the_launchers_flags_are_the_settings_of_the_apps_config_file():
    """``cnn-explorer`` passes the settings as flags too (an installed app may be started from anywhere): the
    same values, the theme's contrast included."""
    import tomllib

    from explorer.launch import SERVER_FLAGS

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flags = dict(zip(SERVER_FLAGS[::2], SERVER_FLAGS[1::2]))
    for section, values in settings.items():
        for name, value in values.items():
            flag = flags.get(f"--{section}.{name}")
            assert flag == (str(value).lower() if isinstance(value, bool) else str(value)), (section, name, flag)


def test_students_read_the_lectures_notebooks_not_their_file_names():
    import re

    from explorer.core import PRESETS, preset_description

    seed = re.compile(r"\bseeds? 0\d\d", re.I)  # the notes' file names (000_….txt) mean nothing to a student
    said = [f"{p.name}: {m.group(0)}" for p in (ROOT / "pages").glob("*.py") for m in seed.finditer(p.read_text())]
    said += [f"preset {n}" for n in PRESETS if seed.search(preset_description(n))]
    assert not said, "say “the lecture's first notebook” instead: " + ", ".join(said)


def test_every_fixed_limit_is_defined_in_core_limits():
    """``MAX_*`` (what a user may give, what the server keeps) lives in ``explorer/core/limits.py``; what work may
    cost lives in ``core.budget``. No other module or page writes a limit of its own."""
    found = []
    for path in [*PKG.rglob("*.py"), *(ROOT / "pages").glob("*.py"), *ENTRY]:
        if path == PKG / "core" / "limits.py":
            continue
        for node in ast.parse(path.read_text()).body:
            targets = (
                node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            )
            found += [
                f"{path.relative_to(ROOT)}: {t.id}"
                for t in targets
                if isinstance(t, ast.Name) and t.id.lstrip("_").startswith("MAX_")
            ]
    assert not found, "move these limits to explorer/core/limits.py: " + ", ".join(found)


def test_tests_never_sleep_to_let_something_happen():
    """A test waits for what it needs with ``tests.waits.wait_until`` (polled, with a deadline) or an event; a
    plain sleep is left only where nothing may move for a while, or as a job's own slow work, and says so."""
    import re

    sleep = re.compile(r"\btime\.sleep\(|\.wait_for_timeout\(|\basyncio\.sleep\(")
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in (ROOT / "tests").rglob("*.py")
        if p.name != "waits.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if sleep.search(line) and "not a synchronisation" not in line
    ]
    assert not found, "wait with tests.waits.wait_until instead: " + ", ".join(found)


def test_the_pages_redraw_intervals_are_named_in_one_place():
    """A fragment's ``run_every`` is one of the named intervals of ``pages/_server.py``, never a number."""
    import re

    literal = re.compile(r"run_every\s*=\s*[0-9.]+")
    found = [
        f"{p.name}: {m.group(0)}" for p in [*(ROOT / "pages").glob("*.py"), *ENTRY] for m in literal.finditer(p.read_text())
    ]
    assert not found, "name these in pages/_server.py: " + ", ".join(found)


def test_the_page_titles_are_one_fact_in_the_menu_and_the_lesson_files():
    """A lesson file names pages by their titles (to hide them, to start on one): those are the menu's titles,
    every page but Start and Lesson can be hidden (a lesson opens on any but
    Teacher), and each page's heading is its title (Start's is the app's
    name)."""
    import re

    from explorer.lessons import HIDEABLE_PAGES, START_PAGES
    from pages._nav import PAGES

    titles = {t: f for items in PAGES.values() for f, t, _ in items}
    assert set(START_PAGES) == set(titles) - {"Teacher", "My data"}  # never the console, nor a student's own data
    assert set(HIDEABLE_PAGES) == set(titles) - {"Start", "Lesson", "My data"}  # a student always reaches My data
    for title, file in titles.items():
        if file == "pages/start.py":
            continue
        heading = re.search(r'st\.title\(\s*"([^"]+)"', (ROOT / file).read_text())
        assert heading is None or heading.group(1) == title, (file, heading.group(1))


def test_pages_key_cached_predictions_by_the_models_version_not_its_address():
    """``id(model)`` is reused once a model is gone: a page's caches key by ``ModelEntry.version`` (or its uid)."""
    import re

    found = [p.name for p in (ROOT / "pages").glob("*.py") if re.search(r"\bid\((entry\.)?model\)", p.read_text())]
    assert not found, "key by entry.version: " + ", ".join(found)


PAGE_FILES = sorted((ROOT / "pages").glob("*.py"))
HEAVY = ("torch", "numpy", "plotly")


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
    return names


def test_pages_only_wire_no_page_imports_torch_numpy_or_plotly():
    """Figures come from ``explorer.plots`` and tensor maths from the library; a page wires widgets to them.
    (``_server.py`` sets the server up: it may warm the libraries the pages will load.)"""
    found = [
        f"{p.name}: {', '.join(sorted(_imported_names(p) & set(HEAVY)))}"
        for p in PAGE_FILES
        if p.name != "_server.py" and _imported_names(p) & set(HEAVY)
    ]
    found += [f"{p.name}: {n}" for p in ENTRY for n in sorted(_imported_names(p) & set(HEAVY))]
    assert not found, "move this work into explorer/: " + "; ".join(found)


def _top_level_lines(path: Path) -> int:
    """Lines of a script that run at its top level: everything but imports, definitions, the docstring and
    constants (a name given a literal text or number: the drawing pad's HTML is data, not logic)."""
    n = 0
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, (ast.Expr, ast.Assign)) and isinstance(node.value, (ast.Constant, ast.JoinedStr)):
            continue
        n += node.end_lineno - node.lineno + 1
    return n


def test_the_top_level_counter_counts_statements_not_definitions(tmp_path):
    script = tmp_path / "p.py"
    script.write_text(
        '"""doc"""\nimport os\n\nHTML = """\n<p>\n"""\nx = int("1")\nif x:\n    print(x)\n\n\ndef f():\n    return 1\n'
    )
    assert _top_level_lines(script) == 3


def test_no_page_script_runs_more_than_100_lines_at_its_top_level():
    """A page's sections are named functions (the 60-line rule reaches them); the script wires them in order."""
    long = [f"{p.name} ({n})" for p in [*PAGE_FILES, *ENTRY] if (n := _top_level_lines(p)) >= 100]
    assert not long, "make named sections of: " + ", ".join(long)


def test_the_pages_limits_are_the_librarys_named_ones_not_numbers():
    """A name field holds what the class's records keep (``MAX_CLASS_NAME``), a model's name what the library
    bounds names to (``MAX_NAME_CHARS``): a page never writes the number again."""
    import re

    literal = re.compile(r"max_chars\s*=\s*\d")
    found = [f"{p.name}: {m.group(0)}" for p in PAGE_FILES for m in literal.finditer(p.read_text())]
    assert not found, "use the library's constant: " + ", ".join(found)


def test_every_uploader_names_the_limit_of_its_own_file():
    """Pages ask ``pages._lang.file_upload`` for an uploader, with the library's limit for that kind of file: the
    hint under it then names that limit, in the student's language; Streamlit's own uploader is called once, there."""
    direct = [
        f"{path.name}:{node.lineno}"
        for path in PAGE_FILES
        if path.name != "_lang.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "file_uploader"
    ]
    assert not direct, "use pages._lang.file_upload: " + ", ".join(direct)


def test_every_image_and_chart_a_page_draws_says_what_it_shows():
    """``st.image`` and ``st.plotly_chart`` always get ``alt``: a sentence from ``explorer.plots.describe`` (or
    from the data at hand), never nothing (WCAG 1.1.1; axe-core's image-alt rule checks the rendered page)."""
    bare = []
    for path in PAGE_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("image", "plotly_chart")
                and not any(k.arg == "alt" for k in node.keywords)
            ):
                bare.append(f"{path.name}:{node.lineno} {node.func.attr}")
    assert not bare, "give these an alt text: " + ", ".join(bare)


def test_every_page_sends_itself_through_app_py_when_its_address_opens_a_fresh_server():
    """A page's address typed into a freshly started server runs that page file alone (Streamlit's legacy
    routing), without the session, the menu or the person: the Teacher page then counted every browser's wrong
    school passwords as one. Each page file hands such a run to ``app.py`` before it draws anything."""
    missing = [
        p.name for p in PAGE_FILES if not p.name.startswith("_") and "\nleave_legacy_pages_routing()" not in p.read_text()
    ]
    assert not missing, "call leave_legacy_pages_routing() at the top of: " + ", ".join(missing)


def test_the_shared_session_keys_have_one_home_and_no_literal_copies():
    """pages/_keys.py defines every session key more than one file uses; no page, app.py or test spells one of
    them as a literal, and none is defined again elsewhere (``current_page`` once lived in two files)."""
    import re

    keys = dict(re.findall(r'^([A-Z_]+) = "([^"]+)"', (ROOT / "pages" / "_keys.py").read_text(), re.M))
    values = "|".join(re.escape(v) for v in keys.values())
    literal = re.compile(
        rf'session_state(?:\[|\.(?:get|pop|setdefault)\()"({values})"'
        rf'|"({values})" (?:not )?in \S*session_state'
    )
    defined = re.compile(rf'^[A-Z_]+ = "({values})"', re.M)
    files = [*ENTRY, *(ROOT / "pages").glob("*.py"), *(ROOT / "tests").rglob("*.py")]
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in files
        if p.name != "_keys.py"
        for m in [*literal.finditer(p.read_text()), *defined.finditer(p.read_text())]
    ]
    assert not found, "import the key from pages._keys: " + "; ".join(found[:5])


def test_no_helper_file_is_named_like_a_page():
    """Streamlit's router gives every file in pages/ an address without its leading underscore: a helper named like
    a page (``_board.py`` beside ``board.py``) stops every page with "two pages resolve to the URL pathname"."""
    pages = {p.stem for p in (ROOT / "pages").glob("*.py") if not p.stem.startswith("_")}
    helpers = {p.stem.lstrip("_") for p in (ROOT / "pages").glob("_*.py") if p.stem != "__init__"}
    assert not pages & helpers, f"rename these helpers: {sorted(pages & helpers)}"

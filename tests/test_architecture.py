"""docs/architecture.md, checked: arrows point down, doors stay thin, and the README documents every setting."""

from __future__ import annotations

import ast
from pathlib import Path

from shengjing import domains
from shengjing.config import Settings

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "shengjing"
DOORS = {"api", "pages", "cli"}
GROUND = {"store", "identity", "audit"}
# Modules that may import anything: they assemble the app and the command from the domains.
ASSEMBLERS = {"shengjing.app", "shengjing.cli", "shengjing.domains", "shengjing.__main__"}


def _modules() -> dict[str, set[str]]:
    """Each module of the package with the shengjing modules it imports."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(("shengjing", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        imports = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shengjing"):
                imports.add(node.module)
                imports.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                imports.update(a.name for a in node.names if a.name.startswith("shengjing"))
        found[name] = imports
    return found


def _floor(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_ground_floor_imports_no_domain() -> None:
    allowed_top = {"shengjing", "shengjing.config", "shengjing.errors", "shengjing.logs"}
    for module, imports in _modules().items():
        floor = _floor(module)
        if floor not in GROUND or module.rsplit(".", 1)[-1] in DOORS:
            continue
        reach = GROUND if floor != "store" else {"store"}
        for target in imports:
            if target in allowed_top or _floor(target) in {"config", "errors"}:
                continue
            assert _floor(target) in reach, f"{module} imports {target}: the ground floor imports no domain"


def test_no_module_imports_another_domains_doors() -> None:
    for module, imports in _modules().items():
        if module in ASSEMBLERS:
            continue
        for target in imports:
            parts = target.split(".")
            crosses = len(parts) >= 3 and parts[2] in DOORS and parts[1] in domains.DOMAINS
            assert not (crosses and parts[1] != _floor(module)), (
                f"{module} imports {target}: call the other domain's service, not its doors"
            )


def test_services_do_not_import_the_web_layer() -> None:
    for module, imports in _modules().items():
        if module.endswith((".service", ".models", ".schemas")):
            web = [t for t in imports if _floor(t) in {"web", "clikit", "cli", "app"}]
            assert web == [], f"{module} imports {web}: the service is below its doors"


def test_readme_documents_every_setting() -> None:
    readme = (PACKAGE.parents[1] / "README.md").read_text("utf-8")
    missing = [name for name in Settings.model_fields if f"`SHENGJING_{name.upper()}`" not in readme]
    assert missing == []
    assert readme.splitlines()[0].startswith("# ") and "make demo" in readme and "make test" in readme


def test_opendata_reads_the_catalog_only_through_its_service() -> None:
    """The public face shows what the catalog's rules allow: no query of the catalog's tables of its own."""
    allowed = {"shengjing.catalog", "shengjing.catalog.service", "shengjing.catalog.schemas"}
    allowed |= {"shengjing.catalog.permissions"}
    for module, imports in _modules().items():
        if _floor(module) == "opendata":
            bypass = sorted(
                t
                for t in imports
                if _floor(t) == "catalog"
                and t not in allowed
                and not t.startswith(("shengjing.catalog.schemas.", "shengjing.catalog.service."))
            )
            assert bypass == [], f"{module} imports {bypass}: read the catalog through catalog.service"


def test_every_domain_in_the_list_exists() -> None:
    for domain in domains.DOMAINS:
        assert (PACKAGE / domain / "__init__.py").exists(), domain


def test_the_cli_knows_each_domains_commands_without_importing_them() -> None:
    """``domains.CLI_COMMANDS`` lets the CLI import only the domain a command needs: it must match ``COMMANDS``."""
    with_cli = {m.__name__.split(".")[1]: tuple(m.COMMANDS) for m in domains.door_modules("cli")}
    assert with_cli == domains.CLI_COMMANDS

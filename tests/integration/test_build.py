"""`sam build` works here, and what it builds imports with nothing but the build output.

The layer is built for Lambda's arm64. Its compiled parts (pydantic-core's extension)
cannot be loaded on another machine: they are checked to be arm64 code, and for importing
the layer here this machine's build of the same pinned version stands in for them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
WHEELHOUSE = ROOT / ".tools" / "wheelhouse"
# Under .tools, not a temporary folder: sam keeps its record of the last build (build.toml)
# beside the build folder, and only with it can the next build be incremental.
BUILD_HOME = ROOT / ".tools" / "sam-build"

pytestmark = pytest.mark.build


class _CfnLoader(yaml.SafeLoader):
    """Reads the built template's short-form intrinsics (!Ref, !GetAtt...) as plain data."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def build_dir() -> Path:
    if not SAM.exists() or not (WHEELHOUSE / ".complete").exists():
        pytest.fail("the SAM CLI and the wheelhouse are missing: run `make setup` first")
    target = BUILD_HOME / "build"
    environment = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        # Offline: the layer's wheels come from the wheelhouse `make setup` downloaded.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        # sam looks for python3.13 on PATH; the venv's interpreter is the runtime's version.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    # --cached: sam builds the layer again only when its manifest (requirements.txt)
    # changed, and copies the sources anew; an unchanged layer is not installed from the
    # wheelhouse on every run (22 s; 2 s incremental).
    subprocess.run(
        [
            str(SAM),
            "build",
            "--build-dir",
            str(target),
            "--template-file",
            "template.yaml",
            "--cached",
            "--cache-dir",
            str(BUILD_HOME / "cache"),
        ],
        cwd=ROOT,
        env=environment,
        check=True,
        timeout=900,
        capture_output=True,
    )
    return target


def _built(build_dir: Path) -> tuple[dict[str, Path], Path]:
    template = yaml.load((build_dir / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    functions = {
        name: build_dir / resource["Properties"]["CodeUri"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    layer = next(
        build_dir / resource["Properties"]["ContentUri"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    )
    return functions, layer / "python"


ELF_MACHINE_AARCH64 = 0xB7


def _extensions(layer: Path) -> list[Path]:
    return sorted(path for path in layer.rglob("*.so") if path.is_file())


def _packages_only_compiled_for_arm(layer: Path) -> list[str]:
    """Top-level packages that have an extension built only for arm64 (no pure fallback
    under another name): they cannot be imported on this machine."""
    host_suffix = f"-{os.uname().machine}-linux-gnu.so"
    return sorted(
        {
            path.relative_to(layer).parts[0]
            for path in _extensions(layer)
            if "-aarch64-linux-gnu.so" in path.name
            and not path.with_name(path.name.replace("-aarch64-linux-gnu.so", host_suffix)).exists()
            and not (path.parent / (path.name.split(".", 1)[0] + ".py")).exists()
        }
    )


def _stand_ins(layer: Path, directory: Path) -> Path:
    """A folder with this machine's build of each arm64-only package, same version."""
    import importlib.metadata

    directory.mkdir(exist_ok=True)
    # A package's distribution may be named otherwise (PIL is pillow's).
    distributions = importlib.metadata.packages_distributions()
    for package in _packages_only_compiled_for_arm(layer):
        host = Path(__import__(package).__file__).parent  # type: ignore[arg-type]
        distribution = distributions.get(package, [package])[0]
        # pip names the folder by the normalised name (MarkupSafe -> markupsafe-3.0.4).
        folder = re.sub(r"[-_.]+", "_", distribution).lower()
        built = next(
            (p for p in layer.glob("*.dist-info") if p.name.lower().startswith(f"{folder}-")),
            None,
        )
        assert built is not None, f"{package} has no dist-info in the layer"
        version = built.name[len(folder) + 1 :].removesuffix(".dist-info")
        assert importlib.metadata.version(distribution) == version, (package, version)
        link = directory / package
        if not link.exists():
            link.symlink_to(host)
    return directory


def _import_in_bare_python(paths: list[Path], code: str) -> subprocess.CompletedProcess[str]:
    # -S: no site-packages at all, -I: no PYTHONPATH or user site. Only the build output.
    program = f"import sys; sys.path[:0] = {json.dumps([str(p) for p in paths])}\n{code}"
    return subprocess.run(
        [sys.executable, "-S", "-I", "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        env={"AWS_DEFAULT_REGION": "eu-central-1"},
        check=False,
    )


def test_the_layers_compiled_parts_are_built_for_lambdas_arm64(build_dir: Path) -> None:
    _, layer = _built(build_dir)
    extensions = _extensions(layer)
    assert any("pydantic_core" in str(path) for path in extensions)
    for path in extensions:
        header = path.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", path
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, path


def test_every_handler_imports_from_the_build_output(build_dir: Path) -> None:
    functions, layer = _built(build_dir)
    assert functions, "the template declares no functions"
    natives = _stand_ins(layer, build_dir.parent / "stand-ins")
    for name, code_dir in functions.items():
        result = _import_in_bare_python(
            [code_dir, natives, layer], "import app\nassert callable(app.handler)\nprint('ok')"
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_every_module_of_the_layer_imports_from_the_build_output(build_dir: Path) -> None:
    # Adapters are imported lazily by the handlers, so importing the handler alone would not
    # notice a dependency (feedparser, say) missing from the layer until that channel's poll.
    _, layer = _built(build_dir)
    modules = sorted(
        ".".join(path.relative_to(layer).with_suffix("").parts)
        for path in (layer / "stormwatch").rglob("*.py")
        if path.name != "__init__.py"
    )
    assert "stormwatch.channels.rss" in modules
    code = "import importlib\n" + "\n".join(f"importlib.import_module({m!r})" for m in modules)
    natives = _stand_ins(layer, build_dir.parent / "stand-ins")
    result = _import_in_bare_python([natives, layer], code + "\nprint('ok')")
    assert result.returncode == 0, result.stderr


def test_the_layer_carries_its_data_files_and_stays_small(build_dir: Path) -> None:
    _, layer = _built(build_dir)
    assert list((layer / "stormwatch" / "listen" / "lexicons").glob("*.tsv"))
    # The learned sentiment model's weights (3.1 MB) and their model card
    assert (layer / "stormwatch" / "listen" / "models" / "sentiment.bin").stat().st_size > 1e6
    assert (layer / "stormwatch" / "listen" / "models" / "README.md").exists()
    size = sum(path.stat().st_size for path in layer.rglob("*") if path.is_file())
    assert list((layer / "stormwatch" / "act" / "fonts").glob("*.ttf"))
    # Lambda allows 250 MB unzipped for function plus layers; most of ours is botocore
    # (about 25 MB) and pillow (19.9 MB, for Instagram's image card).
    assert size < 85 * 1024 * 1024, f"layer is {size / 1e6:.1f} MB"

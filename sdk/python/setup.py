"""Generates the gatehouse.v1 modules from the API contract while the package is built.

In the repository the contract is ../../proto (pip builds a local directory in place, so
`pip install ./sdk/python` finds it); an sdist carries its own copy in proto/, put there by
the sdist command below, so a wheel built from the sdist finds that one.
"""

import shutil
from importlib import resources
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
CONTRACT = Path("gatehouse", "v1")


def proto_root() -> Path:
    """The directory holding gatehouse/v1/*.proto: the sdist's copy, else the repository's."""
    for root in (HERE / "proto", HERE.parent.parent / "proto"):
        if (root / CONTRACT).is_dir():
            return root
    raise SystemExit(f"gatehouse-client: no {CONTRACT}/*.proto in {HERE / 'proto'} or in "
                     f"{HERE.parent.parent / 'proto'}; build from the repository checkout")


class BuildPyWithStubs(build_py):
    """build_py, then the messages (with .pyi types) and gRPC stubs from the .proto files."""

    def run(self) -> None:
        super().run()
        from grpc_tools import protoc  # a build requirement, present only while building

        root = proto_root()
        out = Path(self.build_lib)
        # A module of a removed .proto file must not linger from an earlier build.
        shutil.rmtree(out / CONTRACT, ignore_errors=True)
        # grpc_tools ships google/protobuf/*.proto (timestamp.proto) for the include path.
        well_known = resources.files("grpc_tools") / "_proto"
        protos = sorted(str(p) for p in (root / CONTRACT).glob("*.proto"))
        status = protoc.main([
            "grpc_tools.protoc", f"-I{root}", f"-I{well_known}",
            f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *protos,
        ])
        if status != 0:
            raise SystemExit(f"gatehouse-client: protoc failed on {root / CONTRACT}")
        # The messages' .pyi types reach type checkers only from a package marked typed.
        (out / CONTRACT / "py.typed").touch()


class SdistWithProtos(sdist):
    """sdist, with the .proto files it needs to build without the repository around it."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        shutil.copytree(proto_root() / CONTRACT, Path(base_dir, "proto", CONTRACT),
                        dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos})

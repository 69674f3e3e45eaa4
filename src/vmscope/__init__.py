"""vmscope: VMs, microVMs, sandboxes and containers measured on your host and in the literature."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vmscope")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+src"

from vmscope.errors import UserError  # noqa: E402
from vmscope.model import Record  # noqa: E402

__all__ = ["Record", "UserError", "__version__"]

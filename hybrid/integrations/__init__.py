"""Vector stores for LangChain and LlamaIndex over the engine (embedded `Client` or a server URL).

- `hybrid.integrations.langchain.HybridVectorStore`: a `langchain_core` `VectorStore`;
- `hybrid.integrations.llamaindex.HybridVectorStore`: a `llama_index.core` vector store.

Both frameworks are optional (`pip install "hybrid-vecsearch[adapters]"`): nothing here imports
them; importing either adapter module without its framework raises an ImportError naming the
extra. The shared, framework-free part (collection layout, queries, filters, embedders) is
`hybrid.integrations.store`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA = "adapters"


def missing_extra(package: str, needed_by: str) -> ImportError:
    """The ImportError to raise when an optional package is not installed."""
    return ImportError(f"{needed_by} needs the {package!r} package: "
                       f"pip install \"hybrid-vecsearch[{EXTRA}]\" (or pip install {package})")


def require(module: str, package: str, needed_by: str) -> ModuleType:
    """Import `module` or raise `missing_extra(package, needed_by)`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_extra(package, needed_by) from exc

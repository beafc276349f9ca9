"""The Streamlit server settings that the app's CPU budget per page action depends on."""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def test_no_full_garbage_collection_after_every_script_run() -> None:
    """``runner.postScriptGC`` stays off: a full gc.collect per run cost 2.4x the page CPU.

    benchmarks/load_bench.py prints the server CPU per action that this buys.
    """
    config = tomllib.loads(CONFIG.read_text())
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["enableStaticServing"] is True  # offline map assets still served


def test_streamlit_reads_the_setting() -> None:
    """The option exists under that name in the installed Streamlit (a rename would void it)."""
    from streamlit import config

    assert "runner.postScriptGC" in config._config_options_template

"""`offload demo`: an example server and a task-aware client, narrated as they run."""

from offload.demo.run import run_demo

__all__ = ["run_demo"]

"""Start LRM Lab: `python app.py`, then open http://127.0.0.1:7860.

GRADIO_SERVER_NAME and GRADIO_SERVER_PORT choose the address (0.0.0.0 in the container),
LRM_LAB_DATABASE_URL the database (default: SQLite at storage/lab.db).
"""

import logging
import os

# Gradio's usage analytics call a remote server; the lab runs offline by default.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from lrm_lab.ui.app import launch  # noqa: E402  (after the environment default above)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch()

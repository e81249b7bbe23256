"""``python -m services.projector``: run the projector service."""

from services.platform.service import run_service
from services.projector.app import create_app

if __name__ == "__main__":
    run_service(create_app)

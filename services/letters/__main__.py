"""``python -m services.letters``: run the letter service."""

from services.letters.app import create_app
from services.platform.service import run_service

if __name__ == "__main__":
    run_service(create_app)

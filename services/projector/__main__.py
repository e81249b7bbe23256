"""``python -m services.projector``: run the projector service."""

import asyncio

from services.projector.app import create_app

if __name__ == "__main__":
    asyncio.run(create_app().run())

"""``python -m services.letters``: run the letter service."""

import asyncio

from services.letters.app import create_app

if __name__ == "__main__":
    asyncio.run(create_app().run())

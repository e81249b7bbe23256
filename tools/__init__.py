"""Developer tools: they may import every package of the project, and nothing imports them."""

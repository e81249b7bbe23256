"""Simulated casework for a financial year, and an independent oracle of its figures."""

from services.simulator.generator import SimulationError, simulate_year
from services.simulator.oracle import OracleCounts, oracle

__all__ = ["OracleCounts", "SimulationError", "oracle", "simulate_year"]

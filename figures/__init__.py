"""figures: one plotting layer for every figure and table of the paper, drawn from results files."""

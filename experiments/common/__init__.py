"""Helpers shared by the experiments: results files, NaN guards, plotting setup."""

"""Benchmarks of lambda_widget against the physical floor and its peers, measured in the same run.

``python -m benchmarks`` runs every case; see BENCHMARKS.md for the cases and the latest table.
"""

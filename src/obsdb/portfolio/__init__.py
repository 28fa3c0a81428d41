"""Portfolio questions asked daily (issue 10): valuation and drift, rebalance plans, execution quality.

Figures are defined in docs/portfolio.md. ``obsdb.api`` exposes them; ``obsdb portfolio`` prints them.
"""

"""Batch entry points: each runs stages of dip_sim against the warehouse file."""

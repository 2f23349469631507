"""Batch evaluation: question sets, runs, metrics, reports and benchmark adapters."""

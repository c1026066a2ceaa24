"""Internals of ``delivery.routing.solve``: node layout, feasibility triage, the engines, the scheduler."""

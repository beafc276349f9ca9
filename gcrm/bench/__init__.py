"""Benchmark instances and their solvers: off the product's planning path.

- :mod:`gcrm.bench.instances`: readers of TSPLIB, Solomon and VRPLIB files and
  their cost conventions;
- :mod:`gcrm.bench.solve`: PyVRP on those instances (the ``solve`` command);
- :mod:`gcrm.bench.tour`: the 2-opt / Or-opt tour search for single tours;
- :mod:`gcrm.bench.pvrp_io`: periodic VRP instances (Cordeau's format).
"""

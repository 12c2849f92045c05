"""The top of the house: typed settings, logging set-up and the ``ordercast`` command line.

``ordercast.settings`` is a leaf (it imports only pydantic, YAML and ``forecasting``), read by
``training`` and ``api`` as the one typed place their configuration comes from;
``ordercast.cli`` and ``ordercast.commands`` sit above ``forecasting``, ``training`` and ``api``
and are the only code that reads the process environment.
"""

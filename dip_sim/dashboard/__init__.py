"""The Streamlit dashboard of dip-sim.

It only reads the simulation's output tables (their contracts: ``dip_sim.contract``):
``data`` holds every query, ``format`` the Chinese labels and number formats, and ``pages`` one module per
page. The entry point is ``app.py`` at the project root (``streamlit run app.py``).
"""

"""The dashboard pages, one module per page.

``app.py`` registers each module's file with ``st.Page``; Streamlit runs the file as
``__main__``, which calls the module's ``render()``. Importing a module renders nothing.
"""

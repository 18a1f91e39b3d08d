"""The dashboard: `streamlit run streamlit_app.py`.

Imported as a module by the server, this file builds the ASGI app (`app`): Streamlit plus
the JSON endpoints, /metrics and backup downloads. Run as the page script of a browser
session (`__main__`), it draws the frame and the page navigation.
"""

import streamlit as st

from ops.api import routes as api_routes

app = st.App("streamlit_app.py", routes=api_routes())

if __name__ == "__main__":
    st.set_page_config(page_title="Ops dashboard", page_icon=":material/monitor_heart:",
                       layout="wide")
    navigation = st.navigation([
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:",
                default=True),
    ])
    navigation.run()

"""The dashboard's frame: page navigation. Pages live in pages/, one file each."""

import streamlit as st

st.set_page_config(page_title="Ops dashboard", page_icon=":material/monitor_heart:",
                   layout="wide")

navigation = st.navigation([
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
])
navigation.run()

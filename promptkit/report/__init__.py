"""Ways to show a run: the terminal table now; Markdown, JUnit and HTML build on it."""

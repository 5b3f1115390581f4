"""The nbgrader course of "How Models Learn" and the instructor's pipeline around it."""

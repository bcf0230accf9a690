"""The livret pages: a student's record, the class's « non vu », the mastery rule."""

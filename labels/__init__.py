"""Pure label code: the code grammar printed on labels and badges (imports nothing of app/)."""

"""What the bot knows and how it reads a question: the coalition's topics per language (load),
the matcher that finds a topic for a question, the safeguarding lexicon that notices a
child in danger, and what the bot makes of a question with all three (answers)."""

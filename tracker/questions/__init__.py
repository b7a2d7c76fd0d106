"""An event's own questions on its registration form (models.Question, models.Answer)."""

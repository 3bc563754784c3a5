"""The upstream OpenAI fine-tuning API: its object shapes and the HTTP client."""

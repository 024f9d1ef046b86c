"""Members as people: chats linked across channels, the news topics they follow and their time
zone."""

"""notify: ``news.enriched`` → ``news.alerts``. Matches subscriptions and delivers alerts."""

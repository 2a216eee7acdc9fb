"""Notifiers: one module per receiver, each an aiohttp client implementing
``sitemon_core.alerting.ports.Notifier``.

``alertmanager`` (Prometheus Alertmanager API v2), ``webhook`` (a signed, versioned JSON body)
and ``slack`` (Slack-compatible incoming webhooks: Slack, Mattermost, Rocket.Chat) all make
one bounded attempt through ``http_post.HttpPoster``; retries are the dispatcher's job.
"""

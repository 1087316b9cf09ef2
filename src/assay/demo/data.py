"""Deterministic demo records: support-ticket sentiment, chatbot reply pairs, agent traces."""

from __future__ import annotations

import random
from typing import Any

__all__ = ["SCHEMAS", "agent_rows", "preference_rows", "sentiment_rows"]

SCHEMAS: dict[str, dict[str, Any]] = {
    "ticket-sentiment": {
        "name": "ticket-sentiment",
        "fields": [{"name": "text", "type": "text", "title": "Customer message"}],
        "questions": [
            {
                "name": "sentiment",
                "type": "label",
                "title": "How does the customer feel?",
                "options": ["positive", "neutral", "negative"],
            },
            {"name": "urgent", "type": "label", "options": ["yes", "no"], "required": False},
        ],
        "workflow": {
            "overlap": {"min": 2, "max": 4, "confidence": 0.9},
            "gold_rate": 0.1,
            "review_rate": 0.05,
        },
        "guidelines": (
            "Read the customer's message and pick the feeling it expresses overall.\n\n"
            "- **positive**: thanks, praise, relief\n- **neutral**: questions, facts\n"
            "- **negative**: complaints, anger, disappointment\n\nMark *urgent* when money or access is at stake."
        ),
    },
    "chatbot-replies": {
        "name": "chatbot-replies",
        "fields": [
            {"name": "prompt", "type": "text", "title": "Customer asked"},
            {"name": "candidates", "type": "comparison", "title": "Two replies"},
        ],
        "questions": [
            {
                "name": "preference",
                "type": "preference",
                "field": "candidates",
                "ties": True,
                "strength": True,
            },
            {"name": "helpful", "type": "rating", "scale": 7, "required": False},
            {"name": "rationale", "type": "text", "required": False},
        ],
        "workflow": {"overlap": 3, "review_rate": 0.1},
        "guidelines": "Prefer the reply that solves the customer's problem correctly and briefly.",
    },
    "agent-review": {
        "name": "agent-review",
        "fields": [
            {"name": "task", "type": "text", "title": "User goal"},
            {"name": "trace", "type": "trajectory", "title": "What the agent did"},
        ],
        "questions": [
            {"name": "steps", "type": "step_review", "field": "trace", "required": False},
            {
                "name": "achieved",
                "type": "label",
                "options": ["yes", "partly", "no"],
                "title": "Task achieved?",
            },
            {"name": "skippable", "type": "step_set", "field": "trace", "required": False},
            {"name": "first_error", "type": "step_pick", "field": "trace", "required": False},
        ],
        "workflow": {"overlap": 2},
        "guidelines": "Judge each step: right tool, right arguments, needed at all? Then judge the whole plan.",
    },
}

_POS = [
    "Thanks so much, the refund arrived",
    "Great support, you fixed it in minutes",
    "Love the new app update",
]
_NEU = [
    "How do I change my email address",
    "What are your opening hours",
    "Is the premium plan billed monthly",
]
_NEG = [
    "I was charged twice and nobody answers",
    "The app crashes every time I log in",
    "Still no delivery after 3 weeks",
]
_TAILS = ["", ".", "!", " - order #{n}", ", please advise", " (account {n})"]


def sentiment_rows(n: int = 120, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label, pool = rng.choice([("positive", _POS), ("neutral", _NEU), ("negative", _NEG)])
        text = rng.choice(pool) + rng.choice(_TAILS).format(n=1000 + i)
        row: dict[str, Any] = {"external_id": f"ticket-{i:04d}", "text": text, "metadata": {"truth": label}}
        if i % 10 == 0:
            row["gold"] = {"sentiment": label}
        if i % 3 == 0:
            guess = label if rng.random() < 0.8 else rng.choice(["positive", "neutral", "negative"])
            row["suggestions"] = [
                {"question": "sentiment", "value": guess, "score": 0.8, "model": "sentiment-small"}
            ]
        rows.append(row)
    return rows


_PROMPTS = [
    (
        "How do I reset my password?",
        "Click 'Forgot password' on the sign-in page and follow the email link.",
        "Passwords are important. There are many ways to keep accounts safe, such as using a password manager.",
    ),
    (
        "Can I get a refund after 30 days?",
        "Refunds are possible within 30 days; after that we offer store credit.",
        "Yes.",
    ),
    (
        "My package is late, what now?",
        "Sorry! Share your order number and I'll check the carrier's status.",
        "Packages are sometimes late.",
    ),
    (
        "How do I cancel my subscription?",
        "Go to Settings > Billing > Cancel plan; it stays active until the period ends.",
        "Please contact us by fax to cancel.",
    ),
    (
        "Is my data shared with third parties?",
        "No, we never sell your data; see our privacy policy for details.",
        "Data is data.",
    ),
]


def preference_rows(n: int = 40) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        prompt, good, bad = _PROMPTS[i % len(_PROMPTS)]
        cands = [{"model": "helpful-v2", "text": good}, {"model": "baseline-v1", "text": bad}]
        if i % 2:
            cands.reverse()
        rows.append(
            {
                "external_id": f"pair-{i:03d}",
                "prompt": prompt,
                "candidates": cands,
                "metadata": {"category": ["account", "billing", "shipping", "billing", "privacy"][i % 5]},
            }
        )
    return rows


def _trace(i: int) -> dict[str, Any]:
    city = ["Paris", "Berlin", "Rome", "Madrid"][i % 4]
    steps: list[dict[str, Any]] = [
        {"role": "user", "content": f"Book me the cheapest flight to {city} next Friday."},
        {
            "role": "assistant",
            "actor": "planner",
            "content": "I will search flights first.",
            "tool_calls": [
                {"id": "c1", "name": "search_flights", "arguments": {"to": city, "date": "friday"}}
            ],
        },
        {
            "role": "tool",
            "tool_results": [{"call_id": "c1", "content": f"3 flights to {city}: 89 EUR, 120 EUR, 240 EUR"}],
        },
    ]
    if i % 3 == 0:  # a repeated, unnecessary search
        steps += [
            {
                "role": "assistant",
                "actor": "planner",
                "tool_calls": [
                    {"id": "c2", "name": "search_flights", "arguments": {"to": city, "date": "friday"}}
                ],
            },
            {"role": "tool", "tool_results": [{"call_id": "c2", "content": "same 3 flights"}]},
        ]
    price = 240 if i % 4 == 1 else 89  # sometimes books the wrong (expensive) flight
    steps += [
        {
            "role": "assistant",
            "actor": "booker",
            "handoff": {"from": "planner", "to": "booker"},
            "tool_calls": [
                {"id": "c3", "name": "book_flight", "arguments": {"to": city, "price_eur": price}}
            ],
        },
        {"role": "tool", "tool_results": [{"call_id": "c3", "content": f"booked: {city}, {price} EUR"}]},
        {
            "role": "assistant",
            "actor": "booker",
            "content": f"Done: your flight to {city} is booked for {price} EUR.",
        },
    ]
    return {
        "task": f"Cheapest flight to {city}",
        "steps": steps,
        "outcome": {"booked_price": price},
        "agents": ["planner", "booker"],
        "tools": [
            {
                "name": "search_flights",
                "parameters": {"type": "object", "properties": {"to": {"type": "string"}}},
            },
            {
                "name": "book_flight",
                "parameters": {"type": "object", "properties": {"price_eur": {"type": "number"}}},
            },
        ],
    }


def agent_rows(n: int = 12) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        trace = _trace(i)
        rows.append({"external_id": f"run-{i:03d}", "task": trace["task"], "trace": trace})
    return rows

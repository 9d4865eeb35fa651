"""Models served behind an OpenAI-compatible chat-completions endpoint (vLLM, SGLang, a
hosted API): the one client (:mod:`~stvg.policies.served.client`) that the ``openai``
policy (:mod:`~stvg.policies.served.policy`) and the synthesis ``openai`` teacher share."""

"""The worker's stages, one module each: registration, features, labelling, themes, clips,
feedback. Each module's docstring says its input topics, output topics and tables, and its
delivery guarantee; a stage imports no other stage (import-linter checks it); what they all run
is in :mod:`streams.stages.loops`. :func:`streams.agents.define_agents` composes them."""

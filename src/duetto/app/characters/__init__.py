"""Characters: a person's likeness or a Toybox toy that prompts name as @name, used only with its owner's
consent and by the people the owner allows (models, services, the API routes and the web pages)."""

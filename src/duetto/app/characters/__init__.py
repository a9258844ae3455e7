"""Characters: a person's likeness or a Toybox toy that prompts name as @name, used only with its owner's consent
and by the people the owner allows. One module per room: `service` (making, reading, deleting), `names`,
`permissions`, `rules`, `cast` (a video's characters), `appearances`, `notices`, `enrollment`, `files`, `prompts`
and `jobs` (the job's step). Its pages and API routes live in `web.routes.characters` and `api.routes.characters`."""

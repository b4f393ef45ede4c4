"""Input and output serializers of the HTTP API.

Input serializers check the shape of a request (types, required fields, choices); the
service functions then validate the content and store it, so batches of points, lines
and samples are passed through whole (`BatchField`) and checked once, by the service,
with every bad item named by index and field.

Output serializers describe the JSON the views return. The views build those bodies
from `jobs.events` / `jobs.selectors` (the same shapes the WebSocket pushes), so the
output serializers exist for the OpenAPI schema; tests check bodies against it.

`fields` holds the custom fields, `inputs` the write bodies, `queries` the query
parameters of reads, `outputs` the response shapes.
"""

-- wrk script: every request creates an item (POST /api/v1/items with a JSON body).
wrk.method = "POST"
wrk.body = '{"name": "bench item", "description": "created by bench/bench-service", "quantity": 1}'
wrk.headers["Content-Type"] = "application/json"

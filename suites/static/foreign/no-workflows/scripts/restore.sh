#!/bin/sh
# Restore the latest backup into the database named by $1.
set -eu
database=${1:?usage: restore.sh <database>}
latest=$(aws s3 ls "s3://backups-example/pg/" | sort | tail -n 1 | awk '{print $4}')
aws s3 cp "s3://backups-example/pg/$latest" - | pg_restore --clean --dbname "$database"

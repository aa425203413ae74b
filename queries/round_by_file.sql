-- The round stored from one file (serving table of every round). Params: $file_name.
SELECT * FROM rounds WHERE file_name = $file_name

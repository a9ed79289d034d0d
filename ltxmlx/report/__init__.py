"""Pages a person looks at: `report.html` per run, `index.html` per sweep and for the queue."""

"""One module per figure or table of paper_figures/, each reading run directories only."""

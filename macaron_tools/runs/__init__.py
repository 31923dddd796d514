"""Training runs: two of them side by side on one machine, what their logs say, whether they are trained to their
end, and the records a benchmark keeps of them."""

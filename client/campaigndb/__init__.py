"""campaigndb."""
